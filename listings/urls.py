from django.urls import path

from listings import api, follows_api

urlpatterns = [
    path("categories", api.CategoryListView.as_view(), name="categories"),
    path("listings", api.ListingListCreateView.as_view(), name="listings"),
    path("listings/<str:listing_id>", api.ListingDetailView.as_view(), name="listing-detail"),
    path("listings/<str:listing_id>/publish", api.PublishView.as_view(), name="listing-publish"),
    path("listings/<str:listing_id>/withdraw", api.WithdrawView.as_view(),
         name="listing-withdraw"),
    path("listings/<str:listing_id>/relist", api.RelistView.as_view(), name="listing-relist"),
    path("listings/<str:listing_id>/photos", api.PhotoCreateView.as_view(),
         name="listing-photos"),
    path("listings/<str:listing_id>/photos/reorder", api.PhotoReorderView.as_view(),
         name="listing-photos-reorder"),
    path("listings/<str:listing_id>/photos/<str:photo_id>", api.PhotoDetailView.as_view(),
         name="listing-photo-detail"),
    path("listings/<str:listing_id>/favorite", api.FavoriteView.as_view(),
         name="listing-favorite"),
    path("me/favorites", api.MyFavoritesView.as_view(), name="my-favorites"),
    path("users/<str:user_id>/follow", follows_api.FollowView.as_view(), name="user-follow"),
    path("me/following", follows_api.MyFollowingView.as_view(), name="my-following"),
]
